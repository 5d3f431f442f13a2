package scriptapi

import (
	"errors"
	"runtime"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/scriptrt"
	"github.com/tetrahq/tetra/scriptrt/automation"
)

// Config configures the script routes.
type Config struct {
	// Runtime runs the scripts. Required.
	Runtime *scriptrt.Runtime
	// Timeout is a script's timeout when the request names none
	// (scriptrt.DefaultTimeout when zero).
	Timeout time.Duration
	// MaxTimeout is the most a request may ask for (DefaultMaxTimeout when
	// zero; never below Timeout).
	MaxTimeout time.Duration
	// MaxConcurrent bounds the scripts the server runs at once for
	// requests, across keys (DefaultMaxConcurrent when zero).
	MaxConcurrent int
	// Sink receives what scripts write back (Health.set, Events.emit); nil
	// leaves those APIs refusing.
	Sink scriptrt.Sink
	// Automations, when not nil, mounts the /api/automations routes over
	// it.
	Automations *automation.Manager
}

// DefaultMaxTimeout is the longest timeout a request may ask for unless
// configured.
const DefaultMaxTimeout = time.Minute

// DefaultMaxConcurrent is how many request scripts run at once unless
// configured: two per core, at least four.
var DefaultMaxConcurrent = max(4, 2*runtime.GOMAXPROCS(0))

type handler struct {
	srv   *api.Server
	cfg   Config
	slots chan struct{}
}

// Mount mounts POST /api/script/execute and, with Config.Automations, the
// /api/automations routes (role script) on srv.
func Mount(srv *api.Server, cfg Config) error {
	if cfg.Runtime == nil {
		return errors.New("scriptapi: Config.Runtime is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = scriptrt.DefaultTimeout
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = DefaultMaxTimeout
	}
	cfg.MaxTimeout = max(cfg.MaxTimeout, cfg.Timeout)
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	h := &handler{srv: srv, cfg: cfg, slots: make(chan struct{}, cfg.MaxConcurrent)}
	srv.HandleFunc("POST /api/script/execute", api.RoleScript, h.handleExecute)
	if cfg.Automations != nil {
		h.mountAutomations()
	}
	return nil
}
