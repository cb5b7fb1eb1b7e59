"""How the digitiser's commands reach the session server and its replies come back: a child Python process
(the default) or a worker thread, behind one interface; the controller holds one at a time (worker_link.py).
Qt signals and threads only, no widgets."""
