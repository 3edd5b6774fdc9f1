/** Tokens: bot tokens and the web UI's sessions. */
export { TokenService } from './token-service.js';
export { SessionService } from './session-service.js';
