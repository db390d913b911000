// Package config loads Docket's YAML configuration files strictly: an unknown key, a wrong type
// or a second document is an error at start-up, not a surprise later.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// Config is implemented by every component's configuration struct. ApplyDefaults fills every
// unset field with its documented default, in one place; Validate reports what is still wrong.
type Config interface {
	ApplyDefaults()
	Validate() error
}

// Load reads path into c, applies defaults and validates.
func Load(path string, c Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := Decode(b, c); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// Decode parses YAML b into c strictly, applies defaults and validates. Empty input yields the
// defaults.
func Decode(b []byte, c Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	c.ApplyDefaults()
	return c.Validate()
}
