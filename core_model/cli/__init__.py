"""core_model's command lines (python -m core_model.predict | evaluate | benchmark | model_speed; the modules
of those names beside this package forward here).  Library code never imports this package."""
