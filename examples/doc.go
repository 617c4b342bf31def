// Package examples ships example data files with the binary: roles.yaml, the
// business personas (executive, trader, investor, analyst, team-manager,
// sales, operations, finance, agent) with their suggested goals, which
// `gatehouse roles import` loads and `serve --dev` imports at start.
package examples
