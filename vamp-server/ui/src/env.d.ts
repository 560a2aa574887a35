/// <reference types="vite/client" />

/** The UI's version from package.json, set by vite.config.ts. */
declare const __UI_VERSION__: string;
