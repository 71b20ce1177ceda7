"""jobstep's developer side, never deployed: the CLI, the job API simulator and its signature checker, the
function flow, the code packager, and FunctionGraph's context off the platform."""
