/**
 * `audit verify`'s exit code (online and offline) when the chain verifies but records anomalies
 * (records may have been removed while the server was down): not 0, so a scripted check notices,
 * and not 1 (the chain is broken).
 */
export const AUDIT_ANOMALY_EXIT = 2;
