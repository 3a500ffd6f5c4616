"""The group programme's pages, one module per part of the app (views are thin: authorise,
call one service or selector, render)."""
