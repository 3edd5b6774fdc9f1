/** Files: reading, writing, listing and editing files in the container and its data dir. */
export { FilesService } from './files-service.js';
export { parseMode, parseRange } from './file-format.js';
