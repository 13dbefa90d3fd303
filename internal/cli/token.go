package cli

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/lantern-mlops/lantern/internal/auth"
)

type tokenCmd struct {
	Create tokenCreateCmd `cmd:"" help:"Create an API token: prints it once and stores only its hash."`
}

type tokenCreateCmd struct {
	Name string `help:"Who or what uses the token (shown in the audit log)." required:""`
	Role string `help:"reader, writer or admin." default:"writer" enum:"reader,writer,admin"`
	File string `help:"Tokens file to add the hash to (created with mode 0600). Without it, the entry is printed for LANTERN_TOKENS." type:"path" env:"LANTERN_TOKENS_FILE"`
}

func (c *tokenCreateCmd) Run(g *Globals) error {
	tok := auth.Generate()
	entry := auth.Entry{Name: c.Name, Role: c.Role, SHA256: auth.Hash(tok)}
	if c.File == "" {
		fmt.Fprintf(g.stdout, "token: %s\n\nGive the token to %s; it is not stored anywhere. Start the server with\n  LANTERN_TOKENS=%s:%s:%s\n(or add the hash to a tokens file with --file).\n", tok, c.Name, entry.Name, entry.Role, entry.SHA256)
		return nil
	}
	var f auth.File
	if b, err := os.ReadFile(c.File); err == nil {
		if err := yaml.UnmarshalStrict(b, &f); err != nil {
			return fmt.Errorf("tokens file %s: %w", c.File, err)
		}
	} else if !os.IsNotExist(err) {
		return err
	}
	for _, e := range f.Tokens {
		if e.Name == c.Name {
			return fmt.Errorf("tokens file %s already has a token named %q; remove it first or choose another name", c.File, c.Name)
		}
	}
	f.Tokens = append(f.Tokens, entry)
	b, err := yaml.Marshal(f)
	if err != nil {
		return err
	}
	tmp := c.File + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, c.File); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "token: %s\n\nGive the token to %s; only its hash was added to %s (role %s). A running server picks it up within seconds.\n", tok, c.Name, c.File, c.Role)
	return nil
}
