export { DataPanel } from './data-panel.js';
