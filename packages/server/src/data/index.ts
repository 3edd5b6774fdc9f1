/** Data: the bot's data dir as an archive: export, import, reset. */
export { DataService, restoreWorkDirs } from './data-service.js';
