/** Berth's version, as the API reports it. */
export const BERTH_VERSION = '0.1.0';
