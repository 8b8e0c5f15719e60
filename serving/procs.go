package serving

// Processes supervises the local model-server processes behind routes.
type Processes struct{}

func (p *Processes) attach(rt *route) {}

// Reconcile starts, keeps or stops processes for cfg.
func (p *Processes) Reconcile(cfg Config) error { return nil }
