/** Types for entries.mjs (plain JS so rollup's config can import it without a loader). */
export declare const concepts: { node: Record<string, string>; browser: Record<string, string> };
export declare function entries(platform: 'node' | 'browser'): Record<string, string>;
export declare function aliases(platform: 'node' | 'browser'): { find: RegExp; replacement: string }[];
