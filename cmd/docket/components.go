package main

// components lists the components this binary runs, in start-up order for `docket dev`.
func components() []component {
	return []component{}
}
