/** Exec: commands in the bot's container, in the foreground or as background tasks. */
export { ExecService, type ExecRequest } from './exec-service.js';
export { TaskService } from './task-service.js';
