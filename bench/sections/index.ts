import { data } from './data.js';
import { exec } from './exec.js';
import { flood } from './flood.js';
import { idleRss } from './idle-rss.js';
import { importPause } from './import-pause.js';
import { lifecycle } from './lifecycle.js';
import type { Section } from './section.js';
import { snapshots } from './snapshots.js';

/** Every section, in the order a full run takes them. Add new ones (snapshots, export/import, exec) here. */
export const SECTIONS: readonly Section[] = [lifecycle, idleRss, data, importPause, snapshots, exec, flood];
