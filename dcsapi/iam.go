package dcsapi

import (
	"encoding/json"
	"errors"
)

// decodeProjects returns the ids of the projects named name in an IAM
// KeystoneListProjects answer.
func decodeProjects(body []byte, name string) ([]string, error) {
	var doc struct {
		Projects *[]struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"projects"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, &DecodeError{API: APIIAMProjects, Err: err}
	}
	if doc.Projects == nil {
		return nil, &DecodeError{API: APIIAMProjects, Field: "projects", Err: errors.New("missing")}
	}
	var ids []string
	for _, p := range *doc.Projects {
		if p.Name == name && p.ID != "" {
			ids = append(ids, p.ID)
		}
	}
	return ids, nil
}
