package schemas

// ChainVersionColumns is chain_versions' column list in insert order
// (migration 8: the serving gateway's versioned chains).
func ChainVersionColumns() []string {
	return []string{"name", "hash", "version", "definition", "pushed_by", "pushed_at"}
}

// ChainDeploymentColumns is chain_deployments' column list in insert order.
func ChainDeploymentColumns() []string {
	return []string{"name", "label", "action", "stable_hash", "canary_hash", "canary_percent", "who", "at", "seq"}
}

// chainVersionsTable keeps each chain version once (a push of an existing
// hash replaces itself).
func (d ddl) chainVersionsTable() string {
	return `CREATE TABLE IF NOT EXISTS chain_versions (
    name String,
    hash String,
    version String,
    definition String,
    pushed_by String,
    pushed_at DateTime
) ENGINE = ReplacingMergeTree(pushed_at)
ORDER BY (name, hash)`
}

// chainDeploymentsTable is the append-only log of label moves (promote,
// rollback): the newest row of (name, label) by seq is the label's state.
func (d ddl) chainDeploymentsTable() string {
	return `CREATE TABLE IF NOT EXISTS chain_deployments (
    name String,
    label String,
    action String,
    stable_hash String,
    canary_hash String,
    canary_percent Float64,
    who String,
    at DateTime,
    seq UInt64
) ENGINE = MergeTree
ORDER BY (name, label, seq)`
}
