package main

import (
	"context"
	"fmt"

	"gopkg.in/yaml.v3"
)

// runConfig is `docket config validate COMPONENT FILE` and `docket config defaults COMPONENT`.
func runConfig(_ context.Context, e *env) error {
	fs := e.newFlagSet("config", "validate COMPONENT FILE | defaults COMPONENT")
	if err := e.parse(fs); err != nil {
		return err
	}
	args := fs.Args()
	if len(args) == 0 {
		return fmt.Errorf("%w: want `config validate COMPONENT FILE` or `config defaults COMPONENT`", errUsage)
	}
	switch args[0] {
	case "validate":
		if len(args) != 3 {
			return fmt.Errorf("%w: want `config validate COMPONENT FILE`", errUsage)
		}
		c, err := lookupComponent(args[1])
		if err != nil {
			return err
		}
		if _, err := c.loadConfig(args[2]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: valid %s configuration\n", args[2], c.name)
		return nil
	case "defaults":
		if len(args) != 2 {
			return fmt.Errorf("%w: want `config defaults COMPONENT`", errUsage)
		}
		c, err := lookupComponent(args[1])
		if err != nil {
			return err
		}
		cfg := c.newConfig()
		cfg.ApplyDefaults()
		enc := yaml.NewEncoder(e.stdout)
		enc.SetIndent(2)
		if err := enc.Encode(cfg); err != nil {
			return fmt.Errorf("encode defaults: %w", err)
		}
		return enc.Close()
	default:
		return fmt.Errorf("%w: unknown config subcommand %q", errUsage, args[0])
	}
}
