export interface GlobalOptions {
  url?: string;
  token?: string;
  json: boolean;
}
