"""The book's build tooling, kept out of the `knobs` package a learner installs.

selfcontained.py, teacher_page.py, evalglue.py ({eval} from the glue data) and citelink.py
(citation links) are Sphinx extensions (loaded by _config.yml's `sphinx.local_extensions`);
bibstyle.py is the bibliography style; teacher.py reads what the chapter notebooks declare
(objectives, exercises, solutions) for the teacher's guide, the student edition and the audits.
tools/*.py scripts import it as `bookext`; the tests find it through pytest's `pythonpath` setting
in pyproject.toml.
"""
