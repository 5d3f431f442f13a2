package automation

import (
	"errors"
	"strings"
	"syscall"
)

// isLockError reports whether opening failed because another process holds
// the store's lock file.
func isLockError(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) ||
		strings.Contains(err.Error(), "lock held by current process") || strings.Contains(err.Error(), "resource temporarily unavailable")
}
