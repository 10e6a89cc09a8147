import { ledgerCrashSuites } from './ledger-crash-cases.js';

ledgerCrashSuites(12);
