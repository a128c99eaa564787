/** The DER toolkit lives in lib/ because the agent builds its CSR with it too. */
export * from "../../lib/der.ts";
