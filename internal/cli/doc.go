// Package cli is the lantern command line: one file per subcommand, holding
// its flags and the wiring of the packages that do the work.
//
// Flags come from, lowest precedence first: their defaults, a YAML config
// file (--config; keys are flag names such as "data-dir"), LANTERN_*
// environment variables, and the command line.
package cli
