/** Terminal: an interactive shell in the bot's container. */
export { TerminalService } from './terminal-service.js';
