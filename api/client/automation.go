package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tetrahq/tetra/api/scriptapi"
	"github.com/tetrahq/tetra/scriptrt/automation"
)

// ApplyAutomation creates or replaces an automation (POST
// /api/automations) and returns its status.
func (c *Client) ApplyAutomation(ctx context.Context, d *automation.Definition) (*automation.Status, error) {
	return sendJSON[automation.Status](ctx, c, http.MethodPost, "/api/automations", d)
}

// ListAutomations returns the automations the key may see.
func (c *Client) ListAutomations(ctx context.Context) ([]automation.Status, error) {
	l, err := getJSON[scriptapi.AutomationList](ctx, c, "/api/automations")
	if err != nil {
		return nil, err
	}
	return l.Automations, nil
}

// GetAutomation returns one automation's status.
func (c *Client) GetAutomation(ctx context.Context, name string) (*automation.Status, error) {
	return getJSON[automation.Status](ctx, c, "/api/automations/"+url.PathEscape(name))
}

// DeleteAutomation deletes an automation and its run records.
func (c *Client) DeleteAutomation(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/automations/"+url.PathEscape(name), nil)
	return err
}

// RunAutomation runs an automation now and returns the record of the run
// (event, when not nil, is bound as the script's event).
func (c *Client) RunAutomation(ctx context.Context, name string, event []byte) (*automation.Run, error) {
	return sendJSON[automation.Run](ctx, c, http.MethodPost, "/api/automations/"+url.PathEscape(name)+"/run",
		scriptapi.RunRequest{Event: event})
}

// AutomationRuns returns an automation's run records, newest first.
func (c *Client) AutomationRuns(ctx context.Context, name string, limit int) ([]*automation.Run, error) {
	l, err := getJSON[scriptapi.RunList](ctx, c, "/api/automations/"+url.PathEscape(name)+"/runs?limit="+strconv.Itoa(limit))
	if err != nil {
		return nil, err
	}
	return l.Runs, nil
}

func sendJSON[T any](ctx context.Context, c *Client, method, path string, in any) (*T, error) {
	body, err := c.do(ctx, method, path, in)
	if err != nil {
		return nil, err
	}
	return decodeJSON[T](body, path)
}
