"""Real-browser end-to-end tests (Chromium via Playwright): JupyterLab and the Voila app.

A package, so that its servers and browser (package-scoped fixtures) stop once its tests are
done, before the rest of the test run.
"""
