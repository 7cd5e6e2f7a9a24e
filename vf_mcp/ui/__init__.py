"""MCP Apps views (`io.modelcontextprotocol/ui`): the built HTML bundle and its registration.

`views.install` binds the tools that have a view to `ui://vf-mcp/<view>.html` resources and returns the SDK's
`Apps` extension plus the middleware that shows the UI only to clients that negotiated the extension. The
bundle (`static/views.html`) is built from the top-level `ui/` folder and committed: no npm at run time.
"""
