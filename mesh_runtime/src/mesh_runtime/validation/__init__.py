"""Schema validation of Istio's config kinds: types, enums, required fields, durations, hosts, regexes."""
