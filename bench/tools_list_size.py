"""Print the size of the tools/list answer (what clients put into the model's context), per tool and total."""

from __future__ import annotations

import asyncio
import json

from mcp import Client

from vf_mcp.server import build_server
from vf_mcp.settings import Settings


async def main() -> None:
    async with Client(build_server(Settings(dsn="postgresql://unused@/unused"))) as client:
        tools = (await client.list_tools()).tools
        total = 0
        for t in tools:
            size = len(json.dumps(t.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":")))
            total += size
            print(f"{t.name:28s} {size:6d} bytes")
        print(f"{'total (' + str(len(tools)) + ' tools)':28s} {total:6d} bytes")


if __name__ == "__main__":
    asyncio.run(main())
