/* The course's site-wide script (added to every page by book/_ext/course_site.py). */
