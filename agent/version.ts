// The version printed by `tollgate --version`. Importing package.json lets esbuild inline it into
// the bundle, so the single binary never reads package.json at run time.
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
