export { BOT_NAME_PATTERN, EMPTY_DRAFT, createBody, type ConfigDraft } from './bot-config.js';
export { BotConfigFields } from './bot-config-fields.js';
export { useHostDevices } from './cdi-devices-field.js';
export { ContainerTab } from './container-tab.js';
export { SettingsTab } from './settings-tab.js';
