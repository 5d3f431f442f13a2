package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tetrahq/tetra/lang"
)

// Role is what a key may do. Each route names the role it needs; a key's
// role allows it when Allows says so.
type Role int

const (
	RolePublic Role = iota // no key needed: /healthz, /readyz, the OpenAPI document
	RoleRead               // queries, snapshots, components, live subscriptions, server info, metrics
	RoleIngest             // sending data: the receiver routes, nothing else
	RoleScript             // running scripts, and everything read allows
	RoleAdmin              // everything
)

var roleNames = map[Role]string{RolePublic: "public", RoleRead: "read", RoleIngest: "ingest", RoleScript: "script", RoleAdmin: "admin"}

func (r Role) String() string { return roleNames[r] }

// ParseRole reads a role name (read, ingest, script, admin).
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if n == s && r != RolePublic {
			return r, nil
		}
	}
	return 0, fmt.Errorf("unknown role %q: want read, ingest, script or admin", s)
}

// Allows reports whether a key of role r may use a route that needs role
// need. admin allows everything; script allows what read allows; ingest
// allows only ingest (an agent's key cannot read the topology).
func (r Role) Allows(need Role) bool {
	switch {
	case need == RolePublic || r == RoleAdmin || r == need:
		return true
	case r == RoleScript && need == RoleRead:
		return true
	}
	return false
}

// MarshalText and UnmarshalText store a role by name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	*r = v
	return err
}

// Key is one API key as stored: never its secret, only the secret's hash.
type Key struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Scope   string    `json:"scope,omitempty"` // an STQL filter; empty: the whole topology
	Created time.Time `json:"created"`
	// Hash is the hex SHA-256 of the secret. Secrets are 256 random bits,
	// so a fast hash is as safe as a slow one: there is nothing to guess.
	Hash string `json:"hash"`
	// MaxConcurrent and MaxSubscriptions override the server's per-key
	// limits when positive.
	MaxConcurrent    int `json:"maxConcurrent,omitempty"`
	MaxSubscriptions int `json:"maxSubscriptions,omitempty"`
}

// keyFileDoc is the keys file: {"version": 1, "keys": [...]}.
type keyFileDoc struct {
	Version int   `json:"version"`
	Keys    []Key `json:"keys"`
}

// KeysFileName is the keys file in a data directory.
const KeysFileName = "keys.json"

const keyPrefix = "tetra_"

// KeyFile is the keys file of a data directory. Changes take a lock file
// and replace the file by an atomic rename, so a running server that
// reloads it reads either the old or the new list, never half of one.
type KeyFile struct {
	Path string
}

// NewKeyFile returns the keys file of data directory dir.
func NewKeyFile(dir string) *KeyFile { return &KeyFile{Path: filepath.Join(dir, KeysFileName)} }

// Load reads the keys; a missing file is no keys.
func (f *KeyFile) Load() ([]Key, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc keyFileDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("api: the keys file %s is damaged: %w", f.Path, err)
	}
	if doc.Version != 1 {
		return nil, fmt.Errorf("api: the keys file %s has version %d; this build reads version 1", f.Path, doc.Version)
	}
	return doc.Keys, nil
}

// NewKey is what Create needs to make a key.
type NewKey struct {
	Name             string
	Role             Role
	Scope            string
	MaxConcurrent    int
	MaxSubscriptions int
}

// Create adds a key and returns it with its token, the only time the
// secret exists outside the client. The scope is checked first.
func (f *KeyFile) Create(nk NewKey, now time.Time) (Key, string, error) {
	if nk.Role == RolePublic {
		return Key{}, "", errors.New("a key needs a role: read, ingest, script or admin")
	}
	if nk.Scope != "" {
		if _, err := lang.ParseFilter(nk.Scope); err != nil {
			return Key{}, "", err
		}
	}
	id, secret := randomToken(8), randomToken(32)
	k := Key{ID: id, Name: nk.Name, Role: nk.Role, Scope: nk.Scope, Created: now.UTC(), Hash: hashSecret(secret),
		MaxConcurrent: nk.MaxConcurrent, MaxSubscriptions: nk.MaxSubscriptions}
	err := f.update(func(keys []Key) ([]Key, error) { return append(keys, k), nil })
	if err != nil {
		return Key{}, "", err
	}
	return k, keyPrefix + id + "_" + secret, nil
}

// Revoke removes the key with id (or, if no id matches, the one key named
// so) and returns it.
func (f *KeyFile) Revoke(idOrName string) (Key, error) {
	var gone Key
	err := f.update(func(keys []Key) ([]Key, error) {
		i := slices.IndexFunc(keys, func(k Key) bool { return k.ID == idOrName })
		if i < 0 {
			var named []int
			for j, k := range keys {
				if k.Name == idOrName {
					named = append(named, j)
				}
			}
			switch len(named) {
			case 0:
				return nil, fmt.Errorf("no key with id or name %q (tetra key list shows them)", idOrName)
			case 1:
				i = named[0]
			default:
				return nil, fmt.Errorf("%d keys are named %q: revoke one by its id", len(named), idOrName)
			}
		}
		gone = keys[i]
		return slices.Delete(keys, i, i+1), nil
	})
	return gone, err
}

// update changes the key list under the lock file and writes it back by
// renaming a synced temporary file over it.
func (f *KeyFile) update(change func([]Key) ([]Key, error)) error {
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o700); err != nil {
		return err
	}
	lock, err := os.OpenFile(f.Path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("api: locking %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	keys, err := f.Load()
	if err != nil {
		return err
	}
	if keys, err = change(keys); err != nil {
		return err
	}
	b, err := json.MarshalIndent(keyFileDoc{Version: 1, Keys: keys}, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(f.Path, append(b, '\n'))
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keys-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, nothing to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil { // make the rename durable
		d.Sync()
		d.Close()
	}
	return nil
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics on a broken source)
	if n <= 8 {
		return hex.EncodeToString(b)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// KeyRing is the keys a running server checks: the keys file, read again
// when it changes (Refresh, which the server calls every second). Safe for
// concurrent use.
type KeyRing struct {
	file  *KeyFile
	mu    sync.Mutex // serialises Refresh
	stamp fileStamp
	cur   atomic.Pointer[ring]
}

// ring is one loaded key list with each key's parsed scope.
type ring struct {
	byID   map[string]*loadedKey
	loaded time.Time
}

type loadedKey struct {
	Key
	scope lang.Expr
}

type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

// NewKeyRing loads the keys file. A damaged file or a key with a scope
// that no longer parses is an error: a server must not start with keys it
// cannot check.
func NewKeyRing(f *KeyFile) (*KeyRing, error) {
	kr := &KeyRing{file: f}
	if _, err := kr.Refresh(); err != nil {
		return nil, err
	}
	return kr, nil
}

// Refresh reloads the keys file if it changed since the last load and
// reports whether it did. On an error the previous keys stay in force.
func (kr *KeyRing) Refresh() (bool, error) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	st := statFile(kr.file.Path)
	if kr.cur.Load() != nil && st == kr.stamp {
		return false, nil
	}
	keys, err := kr.file.Load()
	if err != nil {
		return false, err
	}
	r := &ring{byID: make(map[string]*loadedKey, len(keys)), loaded: time.Now()}
	for _, k := range keys {
		lk := &loadedKey{Key: k}
		if k.Scope != "" {
			if lk.scope, err = lang.ParseFilter(k.Scope); err != nil {
				return false, fmt.Errorf("api: key %s has a scope that does not parse: %w", k.ID, err)
			}
		}
		r.byID[k.ID] = lk
	}
	kr.cur.Store(r)
	kr.stamp = st
	return true, nil
}

func statFile(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	st := fileStamp{mod: fi.ModTime(), size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st
}

// Len returns how many keys are in force.
func (kr *KeyRing) Len() int { return len(kr.cur.Load().byID) }

// lookup returns the key a token belongs to, or nil. The comparison of
// the secret's hash takes the same time wherever it differs.
func (kr *KeyRing) lookup(token string) *loadedKey {
	rest, ok := strings.CutPrefix(token, keyPrefix)
	if !ok {
		return nil
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok {
		return nil
	}
	k := kr.cur.Load().byID[id]
	if k == nil {
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(k.Hash)) != 1 {
		return nil
	}
	return k
}
