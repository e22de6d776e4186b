package dcsapi

// This file asks the list API for the instance count alone.

import "context"

// CountInstances asks the list API for a page with room for one instance and
// returns the number of instances the answer announces (instance_num). It is
// the cheapest call that proves the key may list the project's instances,
// which is what --dcs.check needs before a target enables the per-instance
// listing.
func (c *Client) CountInstances(ctx context.Context) (int, error) {
	pid, err := c.ProjectID(ctx)
	if err != nil {
		return 0, err
	}
	var page listPage
	err = c.call(ctx, APIListInstances, c.endpoint, "/v2/"+pid+"/instances", "include_failure=true&limit=1&offset=0", pid, func(body []byte) error {
		return decodeListPage(body, &page, 1)
	})
	if err != nil {
		return 0, err
	}
	return page.total, nil
}
