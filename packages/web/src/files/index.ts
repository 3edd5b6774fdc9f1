export { FilesTab } from './files-tab.js';
