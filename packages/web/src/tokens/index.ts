export { TokensPanel } from './tokens-panel.js';
