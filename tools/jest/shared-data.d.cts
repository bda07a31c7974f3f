// Types of shared-data.cjs for the TypeScript specs that import it.
export declare const REPO_ROOT: string;
export declare const SHARED_ROOT: string;
export declare function sharedPath(...parts: string[]): string;
export declare function underCi(): boolean;
export declare function requireData(paths: string | readonly string[], what: string): boolean;
export declare function describeWithData(paths: string | readonly string[], name: string, fn: () => void): void;
export declare function itWithData(paths: string | readonly string[], name: string, fn: jest.ProvidesCallback, timeout?: number): void;
export declare function fingerprint(dirs?: readonly string[]): string;
