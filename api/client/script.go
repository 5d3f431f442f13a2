package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/tetrahq/tetra/api/scriptapi"
	"github.com/tetrahq/tetra/scriptrt"
)

// ExecuteScript runs a script on the server (POST /api/script/execute,
// role script) and returns its typed result. A script that fails comes
// back as the server's *scriptrt.ErrorDoc, in which errors.As finds the
// runtime's typed errors (*scriptrt.SyntaxError, *scriptrt.TimeoutError,
// *scriptrt.ScriptError with its query and the lang errors in it, …) as
// for a run in this process; a request the server refused before running
// it is an *api.Error.
func (c *Client) ExecuteScript(ctx context.Context, req scriptapi.ExecuteRequest) (*scriptrt.Result, error) {
	status, body, err := c.send(ctx, http.MethodPost, "/api/script/execute", req)
	if err != nil {
		return nil, err
	}
	if status/100 != 2 {
		var doc scriptrt.ErrorDoc
		if json.Unmarshal(body, &doc) == nil && doc.Type != "" {
			return nil, &doc
		}
		return nil, decodeError(status, body)
	}
	var out scriptrt.Response
	if err := json.Unmarshal(body, &out); err != nil || out.Result == nil {
		return nil, fmt.Errorf("client: reading the script's result: %v", err)
	}
	return out.Result, nil
}
