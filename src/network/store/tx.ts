// The network service's write transactions are the shared ones of src/common/db/tx.ts (READ
// COMMITTED and a retry on deadlocks, serialization failures and busy SQLite files). IP and MAC
// uniqueness rely on unique constraints inside the transaction, not on locks. This module only
// re-exports them, so the network store and API keep one import path.

export { writeTx, type Db, type Tx, type StoreDb } from '../../common/db/tx.js';
export { nowIso } from '../../common/db/index.js';
