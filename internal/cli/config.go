package cli

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/alecthomas/kong"
	"sigs.k8s.io/yaml"
)

// yamlResolver reads a YAML config file whose keys are flag names
// ("data-dir" or "data_dir"). Unknown keys are an error, so a typo does not
// silently fall back to a default. A flag whose environment variable is set
// is not taken from the file: precedence is default < file < env < flag.
func yamlResolver(r io.Reader) (kong.Resolver, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var values map[string]any
	if err := yaml.Unmarshal(b, &values); err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	norm := map[string]any{}
	for k, v := range values {
		norm[strings.ReplaceAll(k, "_", "-")] = v
	}
	return &fileResolver{values: norm}, nil
}

type fileResolver struct {
	values map[string]any
}

func (f *fileResolver) Validate(app *kong.Application) error {
	known := map[string]bool{}
	_ = kong.Visit(app, func(node kong.Visitable, next kong.Next) error {
		if fl, ok := node.(*kong.Flag); ok {
			known[fl.Name] = true
		}
		return next(nil)
	})
	var unknown []string
	for k := range f.values {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("config file: unknown keys %s (keys are flag names such as data-dir; see --help)", strings.Join(unknown, ", "))
	}
	return nil
}

func (f *fileResolver) Resolve(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
	for _, env := range flag.Envs {
		if _, ok := os.LookupEnv(env); ok {
			return nil, nil
		}
	}
	v, ok := f.values[flag.Name]
	if !ok {
		return nil, nil
	}
	// kong parses scalars from their string form; keep lists as lists.
	switch x := v.(type) {
	case []any:
		return x, nil
	case map[string]any:
		return nil, fmt.Errorf("config key %s: expected a value, got a mapping", flag.Name)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	}
	return fmt.Sprint(v), nil
}
