import type { DataImportResult } from '@berth/contract';
import { formatBytes, plural } from '../components/format.js';

/** What an import did, in one sentence. */
export function importedSentence(r: Pick<DataImportResult, 'files' | 'bytes'>, fileName: string): string {
  return `Imported ${plural(r.files, 'entry', 'entries')} (${formatBytes(r.bytes)}) from ${fileName}.`;
}

