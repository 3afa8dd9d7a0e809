"""Into Elasticsearch: conversion, the bulk pipeline and its dead-letter file, reflag; the long-running imports (follow, SQS queue)."""
