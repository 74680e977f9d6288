"""Images through chains of kernels: what ``apply``, ``explain``, ``sheet`` and a batch run.

Imports the vocabulary, :mod:`convcli.core`, :mod:`convcli.kernels` and
:mod:`convcli.imageio`, and Dask's distributed for a batch on a cluster only; neither Rich nor
Click: nothing here prints. Its public face:

- :mod:`~convcli.pipeline.chain`: ``apply_chain``, ``prepare_chain``, ``is_signed``;
- :mod:`~convcli.pipeline.alpha`: the ``--alpha`` rules, ``weighted_chain`` and
  ``filtered_alpha``;
- :mod:`~convcli.pipeline.rangemap`: float results to pixel values (``--range``);
- :mod:`~convcli.pipeline.apply`: ``apply_to_image`` and ``ImageOptions``, one image read,
  filtered, mapped and written;
- :mod:`~convcli.pipeline.parts`: ``run_in_parts`` and ``chain_rows``, one image larger than
  memory, read, filtered and written a band of rows at a time;
- :mod:`~convcli.pipeline.explain`: ``explain_image``, ``explain_ramp``, ``work_pixel``, one
  output pixel worked by hand;
- :mod:`~convcli.pipeline.sheet`: ``make_sheet`` and ``compose``, contact sheets;
- :mod:`~convcli.pipeline.job`: ``run_job``, ``Recipe``, ``FileRecord``, one file as the
  command line runs it, and its JSON record;
- :mod:`~convcli.pipeline.batch`: ``plan_batch`` and ``run_jobs``, many files on processes;
- :mod:`~convcli.pipeline.cluster`: ``connect``, ``check_cluster`` and
  ``run_jobs_on_cluster``, many files on a Dask cluster.
"""
