/** What the simulator's server hands the page (`/config.json`). A simulator may hand out keys; real devices never. */
export interface PartyConfig {
  id: string;
  /** The party's secret key (hex): the page enrols devices for it and signs its revocation lists. */
  seed: string;
  /** Its credential from the issuer (hex COSE_Sign1). */
  credential: string;
  /** Its devices' category and what they may deal with. */
  device: { category: string; counterparties: string[] };
  /** Deposited at the ledger when the run started (minor units, decimal). */
  funding: string;
}

/** A payee outside the page (a device in the server's Node process) that page payers may pay. */
export interface OutsidePayee {
  name: string;
  category: string;
  party: string;
  address: string;
}

export interface PageConfig {
  /** A new id each time the server starts: a page that held another run's devices starts afresh. */
  runId: string;
  asset: string;
  /** The ledger's receipt key (hex); it serves the page, so its HTTP API is this origin. */
  ledgerKey: string;
  /** The broker for the page: MQTT over WebSockets. */
  broker: string;
  protocolVersion: 4 | 5;
  /** Topic prefix of this run. */
  prefix: string;
  roots: { id: string; publicKey: string }[];
  /** The issuer's key (hex): the page's operator controls sign hand revocations with it. */
  issuer: { id: string; seed: string };
  parties: PartyConfig[];
  /** Devices of each category the page starts with. */
  fleet: Record<string, number>;
  /** Payees outside the page, on the same broker. */
  outside: OutsidePayee[];
}
