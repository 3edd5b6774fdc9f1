export { TerminalTab } from './terminal-tab.js';
