import type { RollupOptions } from 'rollup';
export const concepts: { node: Record<string, string>; browser: Record<string, string> };
declare const config: RollupOptions[];
export default config;
