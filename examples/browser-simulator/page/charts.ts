/**
 * The page's time-series charts, drawn by uPlot (small, fast, canvas-based): each with a time axis, a
 * value axis with its unit, and a legend. The last five minutes are kept, one point a second.
 */
import uPlot from 'uplot';

const KEEP = 300;
const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2'];

export class Chart {
  private readonly plot: uPlot;
  private readonly data: number[][];

  constructor(parent: HTMLElement, title: string, unit: string, series: string[], o: { width?: number } = {}) {
    this.data = [[], ...series.map(() => [])];
    this.plot = new uPlot(
      {
        title,
        width: o.width ?? 420,
        height: 200,
        scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min * 1.1), Math.max(1, max * 1.1)] } },
        axes: [{ stroke: '#555' }, { label: unit, stroke: '#555', size: 70, labelSize: 20 }],
        series: [{}, ...series.map((label, i) => ({ label, stroke: COLOURS[i % COLOURS.length], width: 1.5, points: { show: false } }))],
        legend: { live: false },
      },
      this.data as uPlot.AlignedData,
      parent,
    );
  }

  /** Adds one point per series at `t` (Unix seconds) and redraws. */
  push(t: number, values: number[]): void {
    this.data[0]?.push(t);
    for (const [i, v] of values.entries()) this.data[i + 1]?.push(v);
    if ((this.data[0]?.length ?? 0) > KEEP) for (const a of this.data) a.shift();
    this.plot.setData(this.data as uPlot.AlignedData);
  }
}
