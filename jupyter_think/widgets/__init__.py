"""The live widgets: the branch graph, what it sends its front end, and the experiment grid."""
